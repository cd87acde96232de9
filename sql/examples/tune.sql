-- Tune on cross-validation folds, train the final model, judge it once on the test split.
-- Run it with:  cargo run -- -f sql/examples/tune.sql
-- Each trial's line goes to stderr as it finishes.
SET mlfusion.registry = 'target/examples/registry';

-- 1. A test split kept aside; 4 folds in the training rows, stratified on the label.
CREATE VIEW splits AS
SELECT * FROM ml_split('SELECT * FROM ''data/penguins.parquet'' WHERE sex IS NOT NULL',
                       'test_fraction=0.2, folds=4, stratify=sex, salt=2026-q4');

-- 2. Twelve trials, each proposed by TPE from those before it and scored by the mean
--    ROC AUC over the folds; then the best hyperparameters train on every training row.
SELECT trial_id, max_depth, round(learning_rate, 4) AS learning_rate,
       round(objective_mean, 4) AS cv_roc_auc, is_optimal
FROM ml_tune('penguin_sex', 'SELECT * EXCLUDE (split) FROM splits WHERE split = ''train''', 'sex',
             'model_type=boosted_tree_classifier, trials=12, seed=1,
              max_depth=choice(2, 3, 4, 6), learning_rate=range(0.02, 0.5, log)')
ORDER BY trial_id;

-- 3. The trials, read back from the registry (BigQuery's ML.TRIAL_INFO).
SELECT trial_id, max_depth, round(learning_rate, 4) AS learning_rate, round(objective_mean, 4) AS cv_roc_auc
FROM ml_trials('penguin_sex') WHERE is_optimal;

-- 4. The final model, judged once on the untouched test rows.
SELECT round(roc_auc, 4) AS test_roc_auc, round(accuracy, 4) AS test_accuracy
FROM ml_evaluate('penguin_sex', 'SELECT * FROM splits WHERE split = ''test''');
