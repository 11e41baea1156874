"""The checkpoint tests' payload: an object whose unpickling by a plain unpickler runs
``touch <marker>`` (so a test sees whether a loader ran code a file carries)."""
import os


class TouchPayload:

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))
