"""AWS at the edge: names (checked before any call), sessions and clients, ECR operations.

- :mod:`pipelines.aws.names`: ECR registry hosts and repository names.
- :mod:`pipelines.aws.session`: credentials resolved once per call, and boto3
  clients with standard-mode retries (shared with the cost-saver Lambda).
- :mod:`pipelines.aws.ecr`: ECR login, repositories and tag checks.

boto3 is imported only inside the functions that make clients: the Dagger
engine imports the module on every call, and most calls never reach AWS.
"""
