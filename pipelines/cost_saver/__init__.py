"""The cost saver: one Lambda that parks non-essential AWS infrastructure after work.

Every workday evening it stops opted-in EC2 instances and RDS databases and
scales Auto Scaling groups, EKS managed node groups and ECS services to zero,
after saving what each had; every workday morning it restores exactly that.

Entry point: ``pipelines.cost_saver.handler.lambda_handler``. Each resource
kind is one small module in ``kinds/`` behind the ``ResourceKind`` protocol;
the saved capacity lives in DynamoDB (``store.py``); ``runner.py`` holds the
rules every kind shares (opt-in, production guard, save before park, restore
then clear). See docs/cost-saver.md.
"""
