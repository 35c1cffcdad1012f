"""The cost saver: one Lambda that parks non-essential AWS infrastructure after work.

Every workday evening it stops opted-in EC2 instances and RDS databases and
scales Auto Scaling groups, EKS managed node groups and ECS services to zero,
after saving what each had; every workday morning it restores exactly that.

Entry point: ``cost_saver.handler.lambda_handler``. Each resource
kind is one small module in ``kinds/`` behind the ``ResourceKind`` protocol,
its capacity's rule in ``capacity.py``; the saved state is one DynamoDB item
per region and kind (``state.py``), written under a lease (``store.py``);
``guard.py`` is the production guard; ``park_and_restore.py`` holds the
rules every kind shares (save the region before parking it, merge overnight
changes, fail loudly what cannot be brought back). See docs/cost-saver.md.

The package ships alone, as the Lambda's zip (``infra/cost-saver/package.py``),
with the pinned boto3 and botocore: of the ``pipelines`` library it imports
only ``pipelines.errors`` (the error base) and ``pipelines.aws.session`` (the
boto3 client config it shares with the pipelines), and whatever those two
import. A test builds the zip and checks that its Python files of this
repository are exactly the modules the handler imports.
"""
