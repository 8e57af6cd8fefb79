from mlcadence.serving.server import main

main()
