"""The staff's main screen: civilians' requests, service types and ratings.

Nothing here changes a request by itself: every action calls one service per selected request
and reports, per request, what the service refused. The change page is read-only for everyone
(state changes only through services); its object tools post the same actions.
"""

from . import assignment, config, requests, satisfaction

__all__ = ["assignment", "config", "requests", "satisfaction"]
