"""The lessons' scenarios as data, and a runner that types them against the lab so a teacher needs no terminal.

- `files/NAME.toml`: one lesson each (the format is in `lesson`'s docstring): the commands to type, the files they
  need, the parties the diagram should show, and each command's process steps in our own words;
- `lesson`: reads and checks those files (pure: a bad file is refused with a sentence naming the problem);
- `runner`: runs a lesson: its setup straight to the daemon (said as setup), then each command through the API tap,
  after a countdown, echoed as typed, with its output and its steps;
- `remote`: what the remote-daemon lesson needs: throwaway TLS certificates and the tap listening on TCP with TLS.

Nothing here imports the store or the sequence mapping: a lesson is what a person types, and the dashboard draws
what it sees of it like anything else.
"""
