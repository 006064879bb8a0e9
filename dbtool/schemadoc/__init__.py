"""`dbtool docs`: the schema documents (model, Markdown pages, ER diagrams) built from a catalog snapshot."""
