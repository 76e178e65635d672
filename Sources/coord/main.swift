import CoordinationCLI

CoordCommandLine.start()
