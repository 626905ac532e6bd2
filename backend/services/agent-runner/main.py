"""Run the agent-runner from the service directory: `python main.py`."""

from agent_runner.main import main

main()
