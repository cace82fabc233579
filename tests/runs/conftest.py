from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from runs.models import ModelConfig
from tests.support.model_server import ModelServer
from tests.support.platform import celery_worker
from tests.support.script import load_script

SCRIPTS = Path(__file__).resolve().parent.parent / "support" / "scripts"


@pytest.fixture
def clean_broker() -> None:
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    script = load_script(SCRIPTS / "fix_textstats.json")
    with ModelServer(*script.replies, when_exhausted=script.when_exhausted) as server:
        yield server


@pytest.fixture
def model(team, model_server: ModelServer) -> ModelConfig:
    config = ModelConfig(team=team, name="scripted", base_url=model_server.openai_base_url, model="scripted")
    config.set_api_key("sk-test-SECRET-key-0123456789")
    config.save()
    team.default_model = config
    team.save()
    return config


@pytest.fixture
def worker(transactional_db, _data_dir: Path, clean_broker) -> Iterator:  # type: ignore[no-untyped-def]
    with celery_worker(_data_dir) as proc:
        yield proc
