import os
import sys
from pathlib import Path

# The source root (platform/) and the repository root (for the agents package).
for _path in (Path(__file__).resolve().parent.parent, Path(__file__).resolve().parent.parent.parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
