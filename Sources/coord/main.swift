import CoordinationCLI

await CoordCommandLine.main()
