VALUE = "namespace package part"
