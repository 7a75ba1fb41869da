"""`.env.example` lists every setting of every service, as their config.py defines them today."""

import subprocess
import sys

from tests.servers import ROOT


def test_env_example_is_generated_from_the_current_settings() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "env_example.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_env_example_names_the_required_gateway_settings() -> None:
    text = (ROOT / ".env.example").read_text()
    assert "\nGATEWAY_REDIS_URL=\n" in text  # the key store and the shared rate limits
    assert "\n# GATEWAY_BOOTSTRAP_ADMIN_KEY=\n" in text
    assert "\nREDIS_PASSWORD=\n" in text
    for prefix in ("GATEWAY_", "INGEST_", "CLASSIFIER_", "AGGREGATOR_"):
        assert f"\n# {prefix}LOG_LEVEL=" in text  # defaults shown, commented out


def test_every_compose_variable_is_in_env_example() -> None:
    import re

    text = (ROOT / ".env.example").read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", (ROOT / "compose.yaml").read_text()))
    listed = set(re.findall(r"^(?:# )?([A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert used <= listed, sorted(used - listed)
