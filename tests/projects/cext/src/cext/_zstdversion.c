#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <zstd.h>

static PyObject *version(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyUnicode_FromString(ZSTD_versionString());
}

static PyMethodDef methods[] = {{"version", version, METH_NOARGS, "libzstd's version"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_zstdversion", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__zstdversion(void) { return PyModule_Create(&module); }
