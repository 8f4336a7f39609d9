from selfiam.cli.main import main

main()
