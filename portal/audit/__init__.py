from . import service as service
