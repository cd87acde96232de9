-- mlfusion quickstart: reproducible dataset splits as SQL, BigQuery style.
-- Run it with:  cargo run -- -f sql/examples/quickstart.sql
-- Data: the Palmer penguins (CC0, data/README.md), 344 rows.

CREATE VIEW penguins AS SELECT * FROM 'data/penguins.parquet';

-- 1. BigQuery's FARM_FINGERPRINT, bit for bit.
SELECT farm_fingerprint('alphabet') AS fingerprint;  -- -2427165924636348523, as in BigQuery

-- 2. BigQuery's split idiom is MOD(ABS(FARM_FINGERPRINT(key)), 10): abs_mod here. The
--    bucket depends only on the row's content: the same rows land in the same split on
--    every run and machine, whatever the row order. But a key built with CONCAT is
--    fragile: values run together, and DataFusion's concat skips NULLs (BigQuery's makes
--    the whole key NULL). row_fingerprint hashes typed, delimited, NULL-tagged values.
SELECT farm_fingerprint(concat('ab', 'c')) = farm_fingerprint(concat('a', 'bc')) AS concat_collides,
       farm_fingerprint(concat('a', NULL)) = farm_fingerprint(concat(NULL, 'a')) AS concat_loses_null,
       row_fingerprint('ab', 'c') = row_fingerprint('a', 'bc') AS row_collides,
       row_fingerprint('a', NULL) = row_fingerprint(NULL, 'a') AS row_loses_null;

-- 3. row_fingerprint hashes typed values NULL-safely; a literal first argument is a salt.
--    80% train, 10% validation, 10% test:
CREATE VIEW splits AS
SELECT CASE WHEN bucket < 8 THEN 'train' WHEN bucket = 8 THEN 'validation' ELSE 'test' END AS split, *
FROM (
  SELECT abs_mod(row_fingerprint('penguins-v1', species, island, bill_length_mm, bill_depth_mm,
                                 flipper_length_mm, body_mass_g, sex, year), 10) AS bucket, *
  FROM penguins
);

SELECT split, count(*) AS penguins,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS percent
FROM splits GROUP BY split ORDER BY penguins DESC;

SELECT split, species, count(*) AS penguins FROM splits GROUP BY 1, 2 ORDER BY 1, 2;

-- 4. dataset_fingerprint: an order-free checksum of a table's rows. The three splits
--    together are exactly the original rows (nothing lost, nothing duplicated) ...
SELECT (SELECT dataset_fingerprint(species, island, bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, sex, year)
        FROM penguins) AS original,
       (SELECT dataset_fingerprint(species, island, bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, sex, year)
        FROM splits) AS all_splits;

-- ... and the checksum survives a round trip through one Parquet file per split.
COPY (SELECT * EXCLUDE (bucket) FROM splits WHERE split = 'train') TO 'target/quickstart/splits/train.parquet';
COPY (SELECT * EXCLUDE (bucket) FROM splits WHERE split = 'validation') TO 'target/quickstart/splits/validation.parquet';
COPY (SELECT * EXCLUDE (bucket) FROM splits WHERE split = 'test') TO 'target/quickstart/splits/test.parquet';

SELECT count(*) AS penguins,
       dataset_fingerprint(species, island, bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, sex, year) AS from_files
FROM 'target/quickstart/splits/';
