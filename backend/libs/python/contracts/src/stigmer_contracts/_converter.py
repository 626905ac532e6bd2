"""The data converter both the workflow side and the activity side use.

Protobuf messages travel as binary protobuf (compact for long turns' statuses); JSON-proto
and plain JSON still decode, so payloads written by other SDKs or by hand stay readable.
"""

from temporalio.converter import (
    BinaryNullPayloadConverter,
    BinaryPlainPayloadConverter,
    BinaryProtoPayloadConverter,
    CompositePayloadConverter,
    DataConverter,
    JSONPlainPayloadConverter,
    JSONProtoPayloadConverter,
)


class ProtoFirstPayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(
            BinaryNullPayloadConverter(),
            BinaryPlainPayloadConverter(),
            BinaryProtoPayloadConverter(),
            JSONProtoPayloadConverter(),
            JSONPlainPayloadConverter(),
        )


def data_converter() -> DataConverter:
    return DataConverter(payload_converter_class=ProtoFirstPayloadConverter)
