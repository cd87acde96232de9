-- A new generation of churn data whose export lost a feature (tenure_months). Run the
-- continuous-training pipeline on it, and it stops at its schema gate with exit status 3:
--   cargo run -- -f sql/examples/generation_missing_feature.sql -f sql/examples/continuous_training.sql
CREATE TABLE generation_2 AS SELECT
  v AS customer_id,
  CAST(45 + v % 40 AS BIGINT) AS age,
  CAST(v * 13 % 100 AS DOUBLE) AS monthly_charges,
  CASE WHEN v % 10 < 7 THEN 'basic' WHEN v % 2 = 0 THEN 'pro' ELSE 'team' END AS plan,
  (v * 7 % 60 < 15) <> (abs_mod(farm_fingerprint(CAST(v AS VARCHAR)), 10) = 0) AS churned
FROM generate_series(6001, 12000) AS g(v);
