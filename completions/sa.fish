complete --keep-order --exclusive --command sa --arguments "(COMPLETE=fish sa -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
