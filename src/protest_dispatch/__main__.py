from protest_dispatch.cli.app import main

main()
