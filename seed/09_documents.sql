-- Documents: one per deal (document n belongs to deal n), filed in the deal's subfolder (folder
-- 2n + 1) and on that folder's topic. Every document has an AI summary
-- written from the topic's vocabulary, so full-text search finds a realistic share of them. The
-- first embedded_per_tenant documents of each tenant have an embedding (see pg_temp.seed_vectors):
-- HNSW insertion costs milliseconds per 1,536-dimension vector, so embedding every document would
-- dominate the seed (docs/benchmarks.md).
INSERT INTO public.documents (id, tenant_id, deal_id, folder_id, name, display_name, mime_type, size_bytes,
                              storage_key, storage_bucket, version, is_latest, checksum, virus_scanned,
                              virus_scan_result, ai_processed, ai_summary, ai_entities, ai_risk_flags, embeddings,
                              tags, custom_metadata, uploaded_by, uploaded_at, last_accessed_at, access_count,
                              locked_by, locked_at)
SELECT
    pg_temp.sid('document', g.n),
    pg_temp.sid('tenant', g.t),
    pg_temp.sid('deal', g.d),
    pg_temp.sid('folder', 2 * g.n + 1),
    w.title || '.' || w.ext,
    w.title,
    CASE w.ext WHEN 'pdf' THEN 'application/pdf'
               WHEN 'xlsx' THEN 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
               ELSE 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' END,
    round(exp(ln(800000) + pg_temp.z('documents.size', g.n)))::BIGINT,
    'tenants/' || pg_temp.sid('tenant', g.t)::TEXT || '/deals/' || pg_temp.sid('deal', g.d)::TEXT || '/'
    || pg_temp.sid('document', g.n)::TEXT || '.' || w.ext,
    'maplatform-documents-eu-west-2',
    1,
    TRUE,
    md5(%(seed)s::TEXT || ':checksum:' || g.n::TEXT),
    TRUE,
    '{"clean": true, "engine": "clamav"}'::JSONB,
    TRUE,
    w.summary,
    jsonb_build_object(
        'organisations', jsonb_build_array(pg_temp.pick(ARRAY['HSBC', 'Barclays', 'KPMG', 'Deloitte', 'PwC', 'EY',
                                                              'Slaughter and May', 'Linklaters'], 'documents.org', g.n)),
        'sector', pg_temp.deal_sector(g.d)),
    CASE WHEN pg_temp.u('documents.risk', g.n) < 0.15 THEN jsonb_build_array(jsonb_build_object(
        'flag', pg_temp.pick(ARRAY['change of control', 'pending litigation', 'customer concentration',
                                   'unpaid tax', 'pension deficit', 'licence breach'], 'documents.flag', g.n),
        'severity', pg_temp.pick(ARRAY['low', 'medium', 'high'], 'documents.severity', g.n)))
    ELSE '[]'::JSONB END,
    CASE WHEN g.local < %(embedded_per_tenant)s::INTEGER THEN public.l2_normalize(
        (SELECT c.v FROM pg_temp.seed_vectors AS c
         WHERE c.i = (g.topic - 1) * 4 + floor(pg_temp.u('documents.variant', g.n) * 4)::INTEGER)
        OPERATOR(public.+) (SELECT a.v FROM pg_temp.seed_vectors AS a
                            WHERE a.i = 1000 + floor(pg_temp.u('documents.noise_a', g.n) * 256)::INTEGER)
        OPERATOR(public.+) (SELECT b.v FROM pg_temp.seed_vectors AS b
                            WHERE b.i = 2000 + floor(pg_temp.u('documents.noise_b', g.n) * 256)::INTEGER))
    END,
    ARRAY[lower(w.topic), pg_temp.pick(ARRAY['draft', 'final', 'final', 'confidential', 'signed'], 'documents.tag', g.n)],
    jsonb_build_object('language', 'en', 'pages', 2 + floor(pg_temp.u('documents.pages', g.n) * 120)::INTEGER),
    pg_temp.sid('user', pg_temp.tenant_user(g.t, pg_temp.u('documents.uploader', g.n))),
    g.uploaded,
    pg_temp.between_now(g.uploaded, pg_temp.u('documents.accessed', g.n)),
    floor(pg_temp.u('documents.access_count', g.n) * 60)::INTEGER,
    CASE WHEN g.locked THEN pg_temp.sid('user', pg_temp.deal_user(g.d, 1)) END,
    CASE WHEN g.locked THEN pg_temp.as_of() - INTERVAL '1 minute' * floor(pg_temp.u('documents.locked_at', g.n) * 600) END
FROM (
    SELECT
        p.*,
        mod(p.d, %(tenants)s::INTEGER) AS t,
        -- the document's number within its tenant
        p.n / %(tenants)s::INTEGER AS local,
        pg_temp.between_now(pg_temp.deal_created(p.d), 0.1 + 0.8 * pg_temp.u('documents.uploaded', p.n)) AS uploaded,
        pg_temp.u('documents.locked', p.n) < 0.02 AS locked
    FROM (
        SELECT
            n,
            n AS d,
            -- the subfolder's topic, 1-6 (07_document_folders.sql)
            1 + floor(pg_temp.u('folders.topic', 2 * n + 1) * 6)::INTEGER AS topic
        FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
    ) AS p
) AS g
CROSS JOIN LATERAL (
    SELECT
        (ARRAY['financials', 'legal', 'commercial', 'tax', 'hr', 'technology'])[g.topic] AS topic,
        (ARRAY[
            ['Audited accounts FY2024', 'Management accounts Q1 2025', 'Quality of earnings report',
             'Budget and forecast 2025-2027', 'Net debt schedule'],
            ['Share purchase agreement draft', 'Disclosure letter', 'Material contracts summary', 'Litigation register',
             'Articles of association'],
            ['Customer cohort analysis', 'Market study', 'Pipeline report', 'Pricing review', 'Competitor benchmarking'],
            ['Tax due diligence report', 'VAT returns 2022-2024', 'Transfer pricing policy', 'R&D tax credit claims',
             'Corporation tax computations'],
            ['Employee census', 'Key employee contracts', 'Pension scheme valuation', 'Organisation chart',
             'Bonus and retention plan'],
            ['IT due diligence report', 'Patent portfolio', 'Open source licence audit', 'Cyber security assessment',
             'Product roadmap']
        ])[g.topic][1 + floor(pg_temp.u('documents.title', g.n) * 5)::INTEGER] AS title,
        pg_temp.pick(ARRAY['pdf', 'pdf', 'pdf', 'xlsx', 'docx'], 'documents.ext', g.n) AS ext,
        CASE g.topic
            WHEN 1 THEN 'Financial statements show revenue of ' || x.millions || 'm, revenue growth of ' || x.pct
                || ' per cent and an EBITDA margin of ' || x.pct2 || ' per cent; net debt of '
                || round(x.millions * x.pct2 / 50) || 'm and seasonal working capital.'
            WHEN 2 THEN 'Legal review of warranties, indemnities and a ' || x.small
                || '-month escrow; change of control clauses in ' || x.small || ' customer contracts and '
                || x.small2 || ' open litigation matters.'
            WHEN 3 THEN 'Commercial review: the top ten customers account for ' || x.pct2
                || ' per cent of revenue, annual churn is ' || x.small || ' per cent and pipeline coverage is '
                || x.pct || ' per cent of budget.'
            WHEN 4 THEN 'Tax due diligence: VAT exposure, transfer pricing between group entities, and R&D tax credits of '
                || x.millions * 10 || 'k claimed since 2021.'
            WHEN 5 THEN 'Employee census of ' || x.millions * 12 || ' staff; key person dependency on the founders, '
                || 'a defined benefit pension deficit of ' || x.small || 'm and proposed retention bonuses.'
            ELSE 'Technology review: ' || x.small2 || ' patents, an open source licence audit and a cyber security '
                || 'posture rated ' || pg_temp.pick(ARRAY['strong', 'adequate', 'weak'], 'documents.grade', g.n) || '.'
        END || ' ' || pg_temp.pick(ARRAY['No material issues found.', 'Further information requested from management.',
                                        'A price adjustment is recommended.', 'Red flag for the investment committee.',
                                        'Consistent with the business plan.',
                                        'The seller will provide updated figures before signing.'], 'documents.note', g.n)
            AS summary
    FROM (
        SELECT
            5 + floor(pg_temp.u('documents.millions', g.n) * 300)::INTEGER AS millions,
            2 + floor(pg_temp.u('documents.pct', g.n) * 40)::INTEGER AS pct,
            5 + floor(pg_temp.u('documents.pct2', g.n) * 35)::INTEGER AS pct2,
            3 + floor(pg_temp.u('documents.small', g.n) * 22)::INTEGER AS small,
            floor(pg_temp.u('documents.small2', g.n) * 12)::INTEGER AS small2
    ) AS x
) AS w
