-- Continuous training: when a new generation of data arrives, validate it, train a
-- challenger on it, judge the challenger and the champion on the same held-out rows, and
-- deploy the better. ASSERT gates stop the run (exit status 3, with the gate's message)
-- when the new data does not fit the model or the challenger is not good enough.
-- Run it with:  cargo run -- -f sql/examples/continuous_training.sql
-- On a generation that lost a feature (it stops at the schema gate):
--   cargo run -- -f sql/examples/generation_missing_feature.sql -f sql/examples/continuous_training.sql
SET mlfusion.registry = 'target/examples/registry';

-- Two generations of churn data. In the second the customers are older, the plan mix has
-- changed (with a new enterprise plan), and churn now follows short tenure rather than
-- high charges. (A script run before this one may have defined generation_2.)
CREATE TABLE generation_1 AS SELECT
  v AS customer_id,
  CAST(20 + v % 40 AS BIGINT) AS age,
  CAST(v * 7 % 60 AS BIGINT) AS tenure_months,
  CAST(v * 13 % 100 AS DOUBLE) AS monthly_charges,
  CASE v % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'team' END AS plan,
  (v * 13 % 100 > 60) <> (abs_mod(farm_fingerprint(CAST(v AS VARCHAR)), 10) = 0) AS churned
FROM generate_series(1, 6000) AS g(v);

CREATE TABLE IF NOT EXISTS generation_2 AS SELECT
  v AS customer_id,
  CAST(45 + v % 40 AS BIGINT) AS age,
  CAST(v * 7 % 60 AS BIGINT) AS tenure_months,
  CAST(v * 13 % 100 AS DOUBLE) AS monthly_charges,
  CASE WHEN v % 10 < 7 THEN 'basic' WHEN v % 10 = 7 THEN 'enterprise' WHEN v % 2 = 0 THEN 'pro'
       ELSE 'team' END AS plan,
  (v * 7 % 60 < 15) <> (abs_mod(farm_fingerprint(CAST(v AS VARCHAR)), 10) = 0) AS churned
FROM generate_series(6001, 12000) AS g(v);

-- 1. The champion: trained on the first generation.
CREATE VIEW split_1 AS SELECT * FROM ml_split('generation_1', 'test_fraction=0.2, key=customer_id, salt=ct');
--    Training holds 20% of its rows out (auto_split) and reports the metrics on them.
SELECT version, training_rows, eval_rows, round(eval_metrics['roc_auc'], 4) AS eval_roc_auc FROM ml_train('churn_ct',
  'SELECT * EXCLUDE (customer_id, split, fold) FROM split_1 WHERE split = ''train''', 'churned',
  'model_type=boosted_tree_classifier, max_iterations=10, max_depth=3');
SELECT alias, version, strategy FROM ml_deploy('churn_ct', 'strategy=most_recent');

-- 2. The second generation arrives. Validate it against the champion's schema, and stop
--    if a feature the champion needs is missing or of another type.
SELECT input, anomaly, severity FROM ml_validate_schema('churn_ct', 'SELECT * EXCLUDE (customer_id) FROM generation_2');
ASSERT NOT EXISTS (SELECT 1 FROM ml_validate_schema('churn_ct', 'SELECT * EXCLUDE (customer_id) FROM generation_2')
                   WHERE severity = 'error')
  AS 'generation_2 does not fit the champion''s schema (ml_validate_schema lists the errors): not retraining';

--    Then against the first generation (drift) and the champion's training data (skew).
--    Drift is why this pipeline retrains; when most features drift at once, the source
--    more likely broke than the customers changed: stop and look.
SELECT input, metric, round(value, 4) AS value, is_anomaly
FROM ml_validate_drift('generation_1', 'generation_2', 'features=[age, tenure_months, monthly_charges, plan]');
ASSERT (SELECT count(*) FROM ml_validate_drift('generation_1', 'generation_2',
                                               'features=[age, tenure_months, monthly_charges, plan]')
        WHERE is_anomaly) <= 2
  AS 'more than two of the four features drifted: check the source before retraining';
SELECT input, round(value, 4) AS value, is_anomaly FROM ml_validate_skew('churn_ct', 'generation_2');

-- 3. The challenger: trained on the second generation's training rows.
CREATE VIEW split_2 AS SELECT * FROM ml_split('generation_2', 'test_fraction=0.2, key=customer_id, salt=ct');
CREATE VIEW holdout AS SELECT * EXCLUDE (customer_id, split, fold) FROM split_2 WHERE split = 'test';
SELECT version, training_rows, eval_rows, round(eval_metrics['roc_auc'], 4) AS eval_roc_auc FROM ml_train('churn_ct',
  'SELECT * EXCLUDE (customer_id, split, fold) FROM split_2 WHERE split = ''train''', 'churned',
  'model_type=boosted_tree_classifier, max_iterations=10, max_depth=3');

-- 4. Both on the same held-out rows of the new generation (each version's own eval_metrics
--    come from different data: the champion's from the first generation).
SELECT 'champion' AS candidate, round(roc_auc, 4) AS roc_auc FROM ml_evaluate('churn_ct@champion', 'holdout')
UNION ALL
SELECT 'challenger', round(roc_auc, 4) FROM ml_evaluate('churn_ct@2', 'holdout')
ORDER BY candidate DESC;

-- 5. Deploy the better of the two on those rows, if the challenger meets the floor.
ASSERT (SELECT roc_auc FROM ml_evaluate('churn_ct@2', 'holdout')) >= 0.75
  AS 'the challenger''s held-out ROC AUC is below the 0.75 floor: not deploying';
SELECT alias, version, previous_version, strategy
FROM ml_deploy('churn_ct', 'strategy=best_score, evaluate_on=holdout');
