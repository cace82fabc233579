import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_platform_is_a_source_root_not_a_package():
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_import_platform_still_gives_the_standard_library():
    import platform

    assert hasattr(platform, "python_version")
    assert platform.__file__ is not None
    assert "site-packages" not in platform.__file__
    assert Path(platform.__file__).parent == Path(sys.modules["os"].__file__).parent


def test_agents_package_never_imports_django():
    offenders = []
    for path in (ROOT / "agents").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import django", "from django", "import channels", "from channels", "import celery", "from celery")):
                offenders.append(f"{path.relative_to(ROOT)}: {stripped}")
    assert offenders == []


def test_agents_imports_cleanly_without_django_loaded():
    import subprocess

    code = (
        "import sys, importlib, pkgutil, agents\n"
        "for m in pkgutil.walk_packages(agents.__path__, 'agents.'):\n"
        "    if m.name.endswith('__main__'):\n"
        "        continue\n"
        "    importlib.import_module(m.name)\n"
        "assert 'django' not in sys.modules, sorted(k for k in sys.modules if k.startswith('django'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
