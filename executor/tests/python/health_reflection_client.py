"""Stock gRPC health and reflection clients (grpcio-health-checking, grpcio-reflection) against the executor.

Usage: health_reflection_client.py ADDR
Prints JSON: the health status of the server and of each service, and the services listed by reflection (v1
and v1alpha), plus whether executor.Executor's file descriptor resolves.
"""

import json
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2 as alpha_pb2
from grpc_reflection.v1alpha import reflection_pb2_grpc as alpha_grpc


def list_services(channel, pb2, grpc_mod):
    stub = grpc_mod.ServerReflectionStub(channel)
    responses = stub.ServerReflectionInfo(iter([pb2.ServerReflectionRequest(list_services="")]), timeout=30)
    names = []
    for response in responses:
        names.extend(s.name for s in response.list_services_response.service)
    return sorted(names)


def file_for_symbol(channel, pb2, grpc_mod, symbol):
    stub = grpc_mod.ServerReflectionStub(channel)
    responses = stub.ServerReflectionInfo(iter([pb2.ServerReflectionRequest(file_containing_symbol=symbol)]), timeout=30)
    return sum(len(r.file_descriptor_response.file_descriptor_proto) for r in responses)


def main() -> None:
    addr = sys.argv[1].removeprefix("http://")
    out = {"health": {}}
    with grpc.insecure_channel(addr) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ["", "executor.Executor", "executor.MatchReporter"]:
            status = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=30).status
            out["health"][service] = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
        out["v1alpha"] = list_services(channel, alpha_pb2, alpha_grpc)
        try:
            from grpc_reflection.v1 import reflection_pb2 as v1_pb2
            from grpc_reflection.v1 import reflection_pb2_grpc as v1_grpc

            out["v1"] = list_services(channel, v1_pb2, v1_grpc)
        except ImportError:
            out["v1"] = None
        out["executor_descriptor_files"] = file_for_symbol(channel, alpha_pb2, alpha_grpc, "executor.Executor")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
