"""A client generated from the RL Arena backend's own copy of the contract (grpc_tools), asking for matches the
way the backend's Go client does: a UUID `match_id`, two agents with `agent_id`, `code_url`, an empty
`docker_image`, `version` and `metadata = {"name": ...}`, `timeout_sec = 300`, `record_replay = true`, under a
5-minute deadline. Prints the HealthCheck answer and each MatchResponse, decoded with the backend's message
types, as JSON on stdout.

Usage: backend_client.py PROTO_DIR OUT_DIR ADDR MATCHES_JSON, where MATCHES_JSON is a list of
`{"environment": ..., "agents": [{"id": ..., "name": ..., "code_url": ..., "version": ...}, ...]}`.
"""

import json
import sys
import uuid

from grpc_tools import protoc


def main() -> None:
    proto_dir, out_dir, addr, matches = sys.argv[1:5]
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

    def as_dict(message):
        return json_format.MessageToDict(
            message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )

    out = {"matches": []}
    with grpc.insecure_channel(addr.removeprefix("http://")) as channel:
        stub = executor_pb2_grpc.ExecutorStub(channel)
        out["health"] = as_dict(stub.HealthCheck(executor_pb2.HealthCheckRequest(), timeout=5))
        for match in json.loads(matches):
            request = executor_pb2.MatchRequest(
                match_id=str(uuid.uuid4()),
                environment=match["environment"],
                agents=[
                    executor_pb2.AgentData(
                        agent_id=agent["id"],
                        docker_image="",
                        version=agent["version"],
                        code_url=agent["code_url"],
                        metadata={"name": agent["name"]},
                    )
                    for agent in match["agents"]
                ],
                timeout_sec=300,
                record_replay=True,
            )
            response = stub.RunMatch(request, timeout=300)
            out["matches"].append({"request_match_id": request.match_id, "response": as_dict(response)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
