"""The compose file's optional `minio` profile: an object store the API and workers can use."""

import re

import yaml

from tests.support.environment import REPO_ROOT


def test_the_minio_profile_serves_a_bucket_the_services_can_be_pointed_at():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["minio"]["profiles"] == ["minio"]
    assert services["minio-bucket"]["profiles"] == ["minio"]
    assert "profiles" not in services["api"] and "profiles" not in services["worker"]
    bucket = re.search(r"mc mb --ignore-existing store/([a-z0-9-]+)",
                       " ".join(services["minio-bucket"]["entrypoint"])).group(1)
    readme = (REPO_ROOT / "README.md").read_text()
    assert f"MLPQ_ARTIFACT_URL=s3://{bucket}/" in readme and "AWS_ENDPOINT_URL=http://minio:9000" in readme
    environment = compose["x-mlpq-environment"]
    for variable in ("MLPQ_ARTIFACT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                     "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        assert variable in environment and environment[variable] is None  # passed through from .env
