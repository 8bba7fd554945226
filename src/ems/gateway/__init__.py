"""The gateway: nginx in front of every service, configured from the registered specs.

nginx does the work (routing, forward auth with `auth_request`, static files); this package
only renders its configuration, so the route table always matches the services that exist.
"""
