"""The classroom: what a teacher shows from real traffic, on top of the sequence mapping.

- `narration`: one plain sentence per arrow;
- `steps`: each command's arrows as the lessons' numbered process table;
- `tracker`: the lessons' status tracker (command, image storage, container state), a pure fold;
- `quiz`: "who acts next?" before each arrow;
- `present`: all of that for some observations, as `/api/present/` serves it;
- `sessions`: named time ranges kept apart from the live store, exported and imported as one JSON file.
"""
