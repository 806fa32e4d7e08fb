try:
    from steun_lti.cli import main

    main(prog_name="steun")
except KeyboardInterrupt:
    # Ctrl-C while still starting up (e.g. `steun demo` stopped as its services boot):
    # stop quietly like the running services do, no stack trace.
    raise SystemExit(130) from None
