-- Split, train, evaluate, deploy and predict, on the bundled penguins data.
-- Run it with:  cargo run -- -f sql/examples/train.sql
-- Models go to the registry below (the default is ./mlfusion_registry; an
-- s3:// URL works the same). Each run adds a version.
SET mlfusion.registry = 'target/examples/registry';

-- 1. Split: 20% test, stratified on species; the same rows on every machine.
CREATE VIEW splits AS
SELECT * FROM ml_split('data/penguins.parquet', 'test_fraction=0.2, stratify=species, salt=2026-q4');

-- 2. Train on the training rows only (split and fold are never features).
SELECT model, version, model_type, training_rows, round(metrics['accuracy'], 4) AS train_accuracy
FROM ml_train('penguin_species', 'SELECT * FROM splits WHERE split = ''train''', 'species',
              'model_type=logistic_reg, l2_reg=1');

-- 3. Judge it once, on the untouched test rows.
SELECT round(accuracy, 4) AS accuracy, round(f1_score, 4) AS f1_score,
       round(log_loss, 4) AS log_loss, round(roc_auc, 4) AS roc_auc
FROM ml_evaluate('penguin_species', 'SELECT * FROM splits WHERE split = ''test''');

-- 4. Make the newest version the champion (or strategy=best_score, rollback, version=N).
SELECT model, alias, version, strategy FROM ml_deploy('penguin_species', 'strategy=most_recent');

-- 5. Score rows with the champion and write the scores as Parquet.
COPY (SELECT species, island, predicted_species, predicted_species_probs
      FROM ml_predict('penguin_species', 'SELECT * FROM splits WHERE split = ''test'''))
TO 'target/examples/penguin_scores.parquet';

SELECT species, predicted_species, count(*) AS penguins
FROM 'target/examples/penguin_scores.parquet' GROUP BY 1, 2 ORDER BY 1, 2;

-- 6. What the registry holds.
SELECT model, version, aliases, model_type, training_rows, data_fingerprint
FROM ml_models() WHERE model = 'penguin_species' ORDER BY version;
