"""The LTI 1.3 protocol side of the tool: registrations, keys, the hardened launch, the services.

Only :mod:`steun_lti.lti.adapter` imports pylti1p3. Views (``steun_lti/web/lti*.py``) adapt the
request and call the plain functions here; the rest of the tool sees a
:class:`steun_lti.lti.launch.LaunchContext` and nothing else.
"""
