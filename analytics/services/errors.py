"""Errors a service raises for its caller to report (API envelope or CLI message)."""


class ServiceError(Exception):
    """A request the service refuses, with a snake_case code and a message for humans."""

    code = "bad_request"
    status = 400

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidInput(ServiceError):
    """Input that is malformed or out of range."""


class VideoNotFound(ServiceError):
    """No video has that id."""

    code = "video_not_found"
    status = 404

    def __init__(self, video_id: str):
        super().__init__(f"No video has the id '{video_id}'")


class VideoExists(ServiceError):
    """A video with that id is already registered."""

    code = "video_exists"
    status = 409

    def __init__(self, video_id: str):
        super().__init__(f"A video with the id '{video_id}' already exists")
