"""Flask extension objects, created once and bound to each app in its factory."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_wtf.csrf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
mail = Mail()
#: Storage and switch come from RATELIMIT_STORAGE_URI and RATELIMIT_ENABLED.
limiter = Limiter(key_func=get_remote_address)
