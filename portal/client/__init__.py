from . import oidc as oidc
from .config import ClientConfig as ClientConfig
from .http import AicommonsClient as AicommonsClient
from .http import ApiError as ApiError
