"""The live architecture map (`/map/`): the lessons' block picture (clients, each daemon with its runtime, images,
containers, networks and volumes, registries) drawn from live state, with each Message lighting the edge it crosses.

- `seen`: what the store's rows say was seen: clients (the tap's requests) and what each registry holds (its
  notifications). Pure.
- `state`: the boxes and edges of the map, from inventories, registry contents and clients. Pure.
- `traffic`: which edge (or box) each Message of the sequence mapping crosses, by its participants' roles. Pure.
- `gather`: reads the store and hands it to the pure parts.

It reads the sequence mapping's Messages and participants (archviz.sequence) and never decides who sent what
itself; it must not import the sources or the tap.
"""
