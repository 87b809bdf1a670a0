"""The only module-level app, for plain WSGI servers: `gunicorn service.wsgi:app` (settings from the environment).

`python -m service` does not use this module; it builds the app through gunicorn's custom-application API.
"""

import logging.config

from service.app import create_app
from service.logs import logging_config
from service.settings import Settings

settings = Settings.load()
logging.config.dictConfig(logging_config(settings.log_level, settings.log_format))
app = create_app(settings)
