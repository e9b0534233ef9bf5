"""JSON schemas of the request bodies that routes read as raw text (workflow definitions, exports).

Those routes parse their body themselves (YAML, measured nesting, field-by-field import checks), so FastAPI has no
model to document them with. These schemas describe what the routes accept, for ``/docs`` and for clients and
fuzzers that generate requests from ``/openapi.json``; the routes' own validation stays the authority.
"""

from __future__ import annotations

from typing import Any

from flowmon.engine.core.events import EventType
from flowmon.engine.model import WorkflowSpec
from flowmon.engine.nodes import NodeRegistry
from flowmon.engine.runtime.secret_refs import SECRET_NAME_PATTERN, SECRET_REF

from .export_format import EXPORT_FORMAT, EXPORT_VERSION

Schema = dict[str, Any]
DEFS_PREFIX = '#/$defs/'
SECRET_REFERENCE: Schema = {
    'type': 'object',
    'properties': {SECRET_REF: {'type': 'string', 'pattern': SECRET_NAME_PATTERN}},
    'required': [SECRET_REF],
    'additionalProperties': False,
    'description': 'a named secret, resolved when the node runs',
}


def inline_refs(schema: Schema) -> Schema:
    """Pydantic's JSON schema with each local ``$ref`` replaced by its definition and ``$defs`` dropped.

    OpenAPI resolves ``$ref`` against the whole document, so a schema placed in an operation cannot keep
    pydantic's local definitions. Pydantic models used here are not recursive.
    """
    defs = schema.get('$defs', {})

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get('$ref')
        if isinstance(ref, str) and ref.startswith(DEFS_PREFIX):
            rest = {key: value for key, value in node.items() if key != '$ref'}
            return resolve({**defs[ref.removeprefix(DEFS_PREFIX)], **rest})
        return {key: resolve(value) for key, value in node.items() if key != '$defs'}

    return resolve(schema)


def workflow_schema(registry: NodeRegistry, *, id_required: bool = True) -> Schema:
    """A workflow definition: each node's ``config`` is the schema of its type's ``Config``. Without
    ``id_required``, ``id`` may be left out (a ``PUT`` body: the path names it). A string in a config may instead
    be ``{"$secret": name}``."""
    schema = inline_refs(WorkflowSpec.model_json_schema())
    if not id_required:
        schema['required'] = [name for name in schema.get('required', []) if name != 'id']
    node = schema['properties']['nodes']['items']
    variants = []
    for type_name in registry:
        config = _secret_strings(inline_refs(registry.get(type_name).Config.model_json_schema()))
        properties = {**node['properties'], 'type': {'const': type_name}, 'config': config}
        required = [*node['required'], 'config'] if config.get('required') else node['required']
        variants.append({**node, 'properties': properties, 'required': required, 'title': f'{type_name} node'})
    schema['properties']['nodes']['items'] = {'oneOf': variants}
    return schema


def _secret_strings(schema: Any) -> Any:
    """``schema`` with each free-text string position also accepting ``{"$secret": name}`` (a choice, an
    enumerated string, does not: a reference there is refused when the workflow is saved)."""
    if isinstance(schema, list):
        return [_secret_strings(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    walked = {key: _secret_strings(value) for key, value in schema.items()}
    if walked.get('type') == 'string' and 'enum' not in walked and 'const' not in walked:
        return {'anyOf': [walked, SECRET_REFERENCE]}
    return walked


def export_schema(registry: NodeRegistry) -> Schema:
    """An execution export as ``GET /api/executions/{id}/export`` writes it (the import checks far more)."""
    event = {
        'type': 'object',
        'required': ['seq', 'ts', 'type'],
        'properties': {
            'execution_id': {'type': 'string'},
            'seq': {'type': 'integer', 'minimum': 1},
            'ts': {'type': 'string', 'format': 'date-time'},
            'type': {'enum': [str(event_type) for event_type in EventType]},
            'node_id': {'type': ['string', 'null']},
            'data': {'type': 'object'},
        },
    }
    return {
        'type': 'object',
        'required': ['format', 'version', 'workflow', 'events'],
        'properties': {
            'format': {'const': EXPORT_FORMAT},
            'version': {'const': EXPORT_VERSION},
            'exported_at': {'type': 'string', 'format': 'date-time'},
            'execution': {'type': 'object'},
            'workflow': workflow_schema(registry),
            'events': {'type': 'array', 'minItems': 1, 'items': event},
        },
    }
