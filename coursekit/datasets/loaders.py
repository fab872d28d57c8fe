class SchemaError(ValueError): pass
def check_schema(*a): pass
def load_csv(*a): pass
def schema_problems(*a): pass
