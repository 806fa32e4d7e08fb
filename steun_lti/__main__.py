from steun_lti.cli import main

main(prog_name="steun")
