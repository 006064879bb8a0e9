-- The vectors document embeddings are built from (a temporary table of this session): 24 topic
-- centres (6 document topics x 4 variants, unit length) and two pools of 256 noise vectors (length
-- about 0.55 and 0.3). An embedding is l2_normalize(centre + noise a + noise b): documents on the
-- same topic are near each other, as real embeddings are, and 24 x 256 x 256 combinations keep
-- them distinct. Building them from a few hundred vectors costs one vector addition per document
-- instead of 1,536 random numbers.
DROP TABLE IF EXISTS pg_temp.seed_vectors;
CREATE TEMPORARY TABLE seed_vectors (
    i INTEGER PRIMARY KEY,
    v public.VECTOR(1536) NOT NULL
);

INSERT INTO pg_temp.seed_vectors (i, v)
SELECT
    b.i,
    (SELECT array_agg(((pg_temp.u('embedding', b.i::BIGINT * 1536 + x) - 0.5) * b.scale)::REAL ORDER BY x)
     FROM generate_series(0, 1535) AS x)::REAL[]::public.VECTOR
FROM (
    -- uniform(-0.5, 0.5) has a standard deviation of 1/sqrt(12): 1,536 of them have length 11.31
    SELECT i, 1 / 11.3137 AS scale FROM generate_series(0, 23) AS i
    UNION ALL
    SELECT i, 0.55 / 11.3137 FROM generate_series(1000, 1255) AS i
    UNION ALL
    SELECT i, 0.3 / 11.3137 FROM generate_series(2000, 2255) AS i
) AS b;
