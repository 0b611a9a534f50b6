package ecrlocal

import (
	"fmt"
	"net/http"
)

// apiError is an ECR error as the JSON protocol carries it: an HTTP status, the shape name in __type and
// X-Amzn-ErrorType, and a message.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func clientError(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

func invalidParameter(format string, args ...any) *apiError {
	return clientError("InvalidParameterException", format, args...)
}

func (s *Server) repositoryNotFound(name string) *apiError {
	return clientError("RepositoryNotFoundException",
		"The repository with name '%s' does not exist in the registry with id '%s'", name, s.registryID)
}

// errServer is what a caller sees when the endpoint fails on its side (the registry is unreachable, ...);
// the cause goes to the log only.
var errServer = &apiError{status: http.StatusInternalServerError, code: "ServerException",
	message: "the local ECR endpoint could not complete the request; see its log"}
