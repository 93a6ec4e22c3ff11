package authhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// DefaultMaxBodyBytes bounds request bodies when Config.MaxBodyBytes is
// zero: 64 KiB, far above any body of this API.
const DefaultMaxBodyBytes = 64 << 10

// DecodeJSON reads r's body, which must be a single JSON object of at
// most limit bytes (limit ≤ 0: [DefaultMaxBodyBytes]), into dst. It
// returns a *[Problem] to answer with when the body is not
// application/json in UTF-8 or has a content coding (415), is too large
// (413), is not JSON, is empty, is not one object, has a member dst does
// not declare or a value of the wrong type (400). Problem details name
// the field and the position, never the values.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any, limit int64) error {
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	if p := checkContentType(r); p != nil {
		return p
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return bodyProblem(err)
	}
	// Exactly one value: anything after it but white space is refused.
	_, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return nil
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return bodyProblem(err)
	}
	return malformed(http.StatusBadRequest, "the body must hold a single JSON object")
}

func malformed(status int, detail string) *Problem {
	return &Problem{Type: TypeMalformedRequest, Title: "Malformed request", Status: status, Detail: detail}
}

// checkContentType accepts application/json in UTF-8 (the only encoding
// RFC 8259 allows), without a content coding.
func checkContentType(r *http.Request) *Problem {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return malformed(http.StatusUnsupportedMediaType, "the body must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return malformed(http.StatusUnsupportedMediaType, "the body must be application/json in UTF-8")
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return malformed(http.StatusUnsupportedMediaType, "content codings are not supported")
	}
	return nil
}

// bodyProblem maps a decoding error to its problem.
func bodyProblem(err error) *Problem {
	bad := func(detail string) *Problem { return malformed(http.StatusBadRequest, detail) }
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return malformed(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", tooLarge.Limit))
	case errors.As(err, &syntax):
		return bad(fmt.Sprintf("malformed JSON at byte %d", syntax.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("malformed JSON: unexpected end of the body")
	case errors.Is(err, io.EOF):
		return bad("the body is empty")
	case errors.As(err, &typ) && typ.Field != "":
		return bad(fmt.Sprintf("field %q must be a JSON %s", typ.Field, typ.Type))
	case errors.As(err, &typ):
		return bad("the body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for DisallowUnknownFields; the
		// field name is the client's own, quoted by %q.
		return bad(strings.TrimPrefix(err.Error(), "json: "))
	}
	return bad("the body cannot be read")
}

// WriteJSON sends v as application/json with status. Marshalling errors
// are the caller's bug; they answer 500 with a problem.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		WriteProblem(w, internalError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
