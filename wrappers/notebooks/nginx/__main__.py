from wrappers.notebooks.nginx import main

main()
