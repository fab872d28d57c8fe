NAME="anomalies"
SIZES={"ci":1,"aula":1,"grande":1}
OPTIONS={}
SCHEMA={}
