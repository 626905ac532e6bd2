from agent_runner.main import main

main()
