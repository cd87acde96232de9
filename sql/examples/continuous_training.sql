-- Continuous training: when a new generation of data arrives, validate it, train a
-- challenger on it, judge the challenger and the champion on the same held-out rows, and
-- deploy the better. Run it with:  cargo run -- -f sql/examples/continuous_training.sql
SET mlfusion.registry = 'target/examples/registry';

-- Two generations of churn data. In the second the customers are older, the plan mix has
-- changed (with a new enterprise plan), and churn now follows short tenure rather than
-- high charges.
CREATE TABLE generation_1 AS SELECT
  v AS customer_id,
  CAST(20 + v % 40 AS BIGINT) AS age,
  CAST(v * 7 % 60 AS BIGINT) AS tenure_months,
  CAST(v * 13 % 100 AS DOUBLE) AS monthly_charges,
  CASE v % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'team' END AS plan,
  (v * 13 % 100 > 60) <> (abs_mod(farm_fingerprint(CAST(v AS VARCHAR)), 10) = 0) AS churned
FROM generate_series(1, 6000) AS g(v);

CREATE TABLE generation_2 AS SELECT
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
SELECT version, training_rows FROM ml_train('churn_ct',
  'SELECT * EXCLUDE (customer_id, split, fold) FROM split_1 WHERE split = ''train''', 'churned',
  'model_type=boosted_tree_classifier, max_iterations=10, max_depth=3');
SELECT alias, version, strategy FROM ml_deploy('churn_ct', 'strategy=most_recent');

-- 2. The second generation arrives. Validate it: against the first generation (drift), against
--    the champion's training data (skew), and against the champion's schema.
SELECT input, metric, round(value, 4) AS value, is_anomaly
FROM ml_validate_drift('generation_1', 'generation_2', 'features=[age, tenure_months, monthly_charges, plan]');
SELECT input, round(value, 4) AS value, is_anomaly FROM ml_validate_skew('churn_ct', 'generation_2');
SELECT input, anomaly, severity FROM ml_validate_schema('churn_ct', 'SELECT * EXCLUDE (customer_id) FROM generation_2');

-- 3. The challenger: trained on the second generation's training rows.
CREATE VIEW split_2 AS SELECT * FROM ml_split('generation_2', 'test_fraction=0.2, key=customer_id, salt=ct');
CREATE VIEW holdout AS SELECT * EXCLUDE (customer_id, split, fold) FROM split_2 WHERE split = 'test';
SELECT version, training_rows FROM ml_train('churn_ct',
  'SELECT * EXCLUDE (customer_id, split, fold) FROM split_2 WHERE split = ''train''', 'churned',
  'model_type=boosted_tree_classifier, max_iterations=10, max_depth=3');

-- 4. Both on the same held-out rows of the new generation.
SELECT 'champion' AS candidate, round(roc_auc, 4) AS roc_auc FROM ml_evaluate('churn_ct@champion', 'holdout')
UNION ALL
SELECT 'challenger', round(roc_auc, 4) FROM ml_evaluate('churn_ct@2', 'holdout')
ORDER BY candidate DESC;

-- 5. Deploy the better of the two on those rows.
SELECT alias, version, previous_version, strategy
FROM ml_deploy('churn_ct', 'strategy=best_score, evaluate_on=holdout');
