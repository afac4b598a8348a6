"""A gRPC client generated from the contract in another language: compiles proto/executor.proto with
grpc_tools, calls RunMatch and HealthCheck, and prints the responses as JSON on stdout.

Usage: run_match_client.py PROTO_DIR OUT_DIR ADDR AGENT_A AGENT_B
"""

import json
import sys

from grpc_tools import protoc


def main() -> None:
    proto_dir, out_dir, addr, agent_a, agent_b = sys.argv[1:6]
    rc = protoc.main(
        ["protoc", f"-I{proto_dir}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", "executor.proto"]
    )
    if rc != 0:
        raise SystemExit(f"protoc failed with {rc}")
    sys.path.insert(0, out_dir)
    import grpc
    import executor_pb2
    import executor_pb2_grpc
    from google.protobuf import json_format

    with grpc.insecure_channel(addr.removeprefix("http://")) as channel:
        stub = executor_pb2_grpc.ExecutorStub(channel)
        health = stub.HealthCheck(executor_pb2.HealthCheckRequest(), timeout=30)
        request = executor_pb2.MatchRequest(
            match_id="python-client-1",
            environment="pong",
            agents=[
                executor_pb2.AgentData(agent_id="left", code_url=agent_a, version="1"),
                executor_pb2.AgentData(agent_id="right", code_url=agent_b, version="1"),
            ],
            timeout_sec=120,
            record_replay=True,
        )
        response = stub.RunMatch(request, timeout=300)
    print(
        json.dumps(
            {
                "health": json_format.MessageToDict(health, preserving_proto_field_name=True),
                "match": json_format.MessageToDict(
                    response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
