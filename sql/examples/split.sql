-- Reproducible dataset splits with ml_split, on the bundled penguins data.
-- Run it with:  cargo run -- -f sql/examples/split.sql

-- 1. 20% test, 10% validation and 5 cross-validation folds, stratified on species:
--    every species is within one penguin of its share in every split and fold.
CREATE VIEW splits AS
SELECT * FROM ml_split('data/penguins.parquet',
                       'test_fraction=0.2, validation_fraction=0.1, folds=5, stratify=species, salt=2026-q4');

SELECT split, fold, species, count(*) AS penguins FROM splits GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- 2. Reproducible: the same rows in another order (or file layout) get the same
--    assignments: the multisets of (row, split, fold) have one fingerprint.
SELECT (SELECT dataset_fingerprint(*) FROM splits) =
       (SELECT dataset_fingerprint(*)
        FROM ml_split('SELECT * FROM ''data/penguins.parquet'' ORDER BY body_mass_g DESC',
                      'test_fraction=0.2, validation_fraction=0.1, folds=5, stratify=species, salt=2026-q4'))
       AS same_assignments;

-- 3. Grouped: all penguins of one island and year in the same split and fold (no leakage
--    between years of an island), with method=hash: stable when new years are appended.
SELECT split, fold, count(DISTINCT island || year) AS island_years, count(*) AS penguins
FROM ml_split('SELECT *, island || CAST(year AS VARCHAR) AS island_year FROM ''data/penguins.parquet''',
              'test_fraction=0.3, folds=2, group=island_year')
GROUP BY 1, 2 ORDER BY 1, 2;

-- 4. Write the splits as Parquet, one folder per split, and check nothing was lost.
COPY (SELECT * FROM splits WHERE split = 'train') TO 'target/examples/penguin_splits/train.parquet';
COPY (SELECT * FROM splits WHERE split = 'validation') TO 'target/examples/penguin_splits/validation.parquet';
COPY (SELECT * FROM splits WHERE split = 'test') TO 'target/examples/penguin_splits/test.parquet';

SELECT (SELECT dataset_fingerprint(*) FROM 'data/penguins.parquet') AS original,
       (SELECT dataset_fingerprint(species, island, bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, sex, year)
        FROM 'target/examples/penguin_splits/') AS written;
