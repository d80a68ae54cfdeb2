// A Go program using OVH's official Go client (github.com/ovh/go-ovh, Debian's golang-github-ovh-go-ovh-dev)
// as a Go application would: the endpoint, keys and service come from the environment, what it got is printed
// as one JSON object. RELAIS_STEP=credential asks for a consumer key; RELAIS_STEP=sms uses one.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/ovh/go-ovh/ovh"
)

// refusal is what the client gives for an answer that is not a 2xx: OVH's message and the HTTP status.
func refusal(err error) map[string]interface{} {
	var apiError *ovh.APIError
	if errors.As(err, &apiError) {
		return map[string]interface{}{"code": apiError.Code, "message": apiError.Message}
	}
	if err == nil {
		return map[string]interface{}{"code": 0}
	}
	return map[string]interface{}{"code": -1, "message": err.Error()}
}

func fail(step string, err error) {
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"failedAt": step, "error": err.Error()})
	os.Exit(1)
}

func main() {
	endpoint := os.Getenv("OVH_ENDPOINT")
	client, err := ovh.NewClient(endpoint, os.Getenv("OVH_APPLICATION_KEY"), os.Getenv("OVH_APPLICATION_SECRET"), os.Getenv("OVH_CONSUMER_KEY"))
	if err != nil {
		fail("client", err)
	}
	out := map[string]interface{}{}

	if os.Getenv("RELAIS_STEP") == "credential" {
		request := client.NewCkRequestWithRedirection("https://app.example.com/done")
		request.AddRecursiveRules(ovh.ReadWrite, "/sms")
		state, err := request.Do()
		if err != nil {
			fail("credential", err)
		}
		out["credential"] = state
		json.NewEncoder(os.Stdout).Encode(out)
		return
	}

	service := os.Getenv("SMS_SERVICE")
	var services []string
	if err := client.Get("/sms", &services); err != nil {
		fail("services", err)
	}
	out["services"] = services

	var account map[string]interface{}
	if err := client.Get("/sms/"+url.PathEscape(service), &account); err != nil {
		fail("account", err)
	}
	out["account"] = account

	type job struct {
		Message      string   `json:"message"`
		Receivers    []string `json:"receivers"`
		Sender       string   `json:"sender"`
		NoStopClause bool     `json:"noStopClause"`
		Tag          string   `json:"tag"`
	}
	var report struct {
		IDs                 []int64  `json:"ids"`
		ValidReceivers      []string `json:"validReceivers"`
		InvalidReceivers    []string `json:"invalidReceivers"`
		TotalCreditsRemoved float64  `json:"totalCreditsRemoved"`
		Tag                 string   `json:"tag"`
	}
	sent := job{Message: os.Getenv("SMS_TEXT"), Receivers: []string{"+33612345678", "0612345679", "pas un numéro"}, Sender: os.Getenv("SMS_SENDER"), NoStopClause: true, Tag: "go & <tag>"}
	if err := client.Post("/sms/"+url.PathEscape(service)+"/jobs", sent, &report); err != nil {
		fail("job", err)
	}
	out["job"] = report

	var listed []int64
	query := url.Values{"tag": {"go & <tag>"}}
	if err := client.Get("/sms/"+url.PathEscape(service)+"/outgoing?"+query.Encode(), &listed); err != nil {
		fail("outgoing", err)
	}
	out["outgoing"] = listed

	var message map[string]interface{}
	if err := client.Get(fmt.Sprintf("/sms/%s/outgoing/%d", url.PathEscape(service), report.IDs[0]), &message); err != nil {
		fail("message", err)
	}
	out["message"] = message

	if err := client.Delete(fmt.Sprintf("/sms/%s/outgoing/%d", url.PathEscape(service), report.IDs[0]), nil); err != nil {
		fail("delete", err)
	}
	var after []int64
	if err := client.Get("/sms/"+url.PathEscape(service)+"/outgoing?"+query.Encode(), &after); err != nil {
		fail("outgoing after delete", err)
	}
	out["outgoingAfterDelete"] = after

	unknownSender := sent
	unknownSender.Sender = "Nobody"
	out["unknownSender"] = refusal(client.Post("/sms/"+url.PathEscape(service)+"/jobs", unknownSender, nil))
	out["outsideRules"] = refusal(client.Get("/me", nil))
	out["otherService"] = refusal(client.Get("/sms/sms-zz99999-1", nil))
	json.NewEncoder(os.Stdout).Encode(out)
}
