"""hello-service: the reference service that Portable Pipelines builds, tests and ships."""
