"""Shared (de)serialisation for models that wrap a `BertEncoder`."""

import keras


class TaskModel(keras.Model):
    """Base of the task heads: `get_config` nests the encoder's config, `from_config`
    rebuilds it, so a head round-trips without pickling anything."""

    def _task_config(self):
        return {}

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            **self._task_config(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)
